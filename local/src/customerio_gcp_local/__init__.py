"""Local development: start the Google Cloud emulators and run the whole pipeline on one machine."""
