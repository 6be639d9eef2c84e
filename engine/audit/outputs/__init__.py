"""Writing an audit: results.csv, results.xlsx, the lists and errors, kpis.json and the HTML report."""
