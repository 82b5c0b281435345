"""Google Coral edgeTPU reference latencies (Apache-2.0); see README.md."""
