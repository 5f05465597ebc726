// The Text module. See README.md, "Architecture".
