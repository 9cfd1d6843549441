"""An attribute value: how it is written down as text, the date and time forms the import reads, and casts between file text, typed columns and the store."""
