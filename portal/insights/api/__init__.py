"""The insights API: maturity, ROI and KPIs."""
