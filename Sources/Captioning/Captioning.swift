// The Captioning module. See README.md, "Architecture".
