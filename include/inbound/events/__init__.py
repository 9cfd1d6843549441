"""Event mode without Airflow: S3 notifications (SQS, SNS into SQS) to an integration's files, and the bucket notification and queue policy it needs."""
