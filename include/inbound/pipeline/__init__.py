"""The steps for one file (extract and map in bounded batches, load, finalize), files several integrations share, and a run's lineage."""
