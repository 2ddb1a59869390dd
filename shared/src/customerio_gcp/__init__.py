"""customerio-gcp: run Customer.io on Google Cloud.

The package is the only code that talks to Customer.io. Application code publishes messages
(`customerio_gcp.publishing`), the Cloud Functions deliver them (`customerio_gcp.delivery`), and
everything in between goes through `customerio_gcp.service.MessagingService`.
"""

__version__ = "0.1.0"
