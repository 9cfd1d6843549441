"""inbound: S3 exports -> user attributes, on Airflow. The folders are the layers (see README, Architecture)."""

from inbound import moved

moved.install()
