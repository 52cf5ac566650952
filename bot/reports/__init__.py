"""Reports made from the analytics summaries: charts (PNG) and the HTML report."""
