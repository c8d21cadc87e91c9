"""Demo application settings.

The credentials below are FAKE values planted in Shieldwall's demo image so
that the secret scanner has something real-looking to find. They grant access
to nothing.
"""

DEBUG = False
AWS_ACCESS_KEY_ID = "AKIA4HWQ3ZJ7TXB5ML2N"
AWS_SECRET_ACCESS_KEY = "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"
DATABASE_URL = "postgresql://app:Tr0ub4dor-demo-9qX@db.internal:5432/app"
