-- One schema per module; no module reads another's tables.
create schema if not exists identity;
create schema if not exists catalog;
create schema if not exists orders;
create schema if not exists cart;
-- Trigram indexes back case-insensitive product search.
create extension if not exists pg_trgm;
