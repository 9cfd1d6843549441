"""The plugin's web API (FastAPI behind Airflow's auth) and the built React app it serves."""
