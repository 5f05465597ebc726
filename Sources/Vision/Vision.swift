// The Vision module. See README.md, "Architecture".
