"""Where things are in a bucket and the S3 calls on them: which files are new, their bytes, where they go when done, and where a run's attribute sets wait (staging)."""
