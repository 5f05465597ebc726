// safetensors reader and writer: see SafeTensorsFile and SafeTensorsWriter.
