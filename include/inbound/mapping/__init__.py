"""A frame of strings to an attribute set: user-ID checks, casts to the declared types, rejected rows."""
