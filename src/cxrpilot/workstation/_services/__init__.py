"""The service layer: the only code that commits. Routes call it; it raises
:mod:`cxrpilot.workstation._errors` exceptions that the app maps to HTTP statuses."""
