"""The integration config: the model of one YAML file, its names, its problems as people read them, the folder of configs (the catalog) and schedules."""
