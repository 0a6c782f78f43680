"""History and reports: stored results as tables, charts, trends, the HTML report, the
run summary, and the guide's published results as reference runs."""
