"""The lists people act on, evaluated at the KPI date over the placements active then."""
