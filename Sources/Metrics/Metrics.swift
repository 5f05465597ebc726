// The Metrics module. See README.md, "Architecture".
