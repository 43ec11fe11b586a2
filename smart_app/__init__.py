"""The SMART on FHIR app: launch, callback, evidence screen."""

from smart_app.app import create_app

__all__ = ["create_app"]
