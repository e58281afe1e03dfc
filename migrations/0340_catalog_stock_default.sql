-- A product row is inserted by the catalog without stock; inventory sets it in the same
-- transaction (inventory owns every write of the column, src/modules/inventory/stock.ts).
alter table catalog.products alter column stock set default 0;
