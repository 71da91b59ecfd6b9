-- Why a run that finished without error held back work it would otherwise do: discovery cut
-- short by maxItemsToScan, or a discovery that found nothing. Such a run deletes nothing, and an
-- operator reading the ledger must be able to tell that from "nothing needed deleting".
ALTER TABLE runs ADD COLUMN note TEXT;
