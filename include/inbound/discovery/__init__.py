"""`inbound discover` and the wizard: sample the head of an export, infer its layout and types, propose a config; the places the wizard may read."""
