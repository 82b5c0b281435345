"""The seed authors' edgeTPU / Jetson measurements (umassos/ibis, MIT); see README.md."""
