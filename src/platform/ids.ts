import { v7 } from 'uuid';

/** UUID v7: random but sorted by creation time, so indexes on ids stay append-mostly. */
export const newId = (): string => v7();

export const UUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
