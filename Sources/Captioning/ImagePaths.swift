/// Image arguments of `caption features` / `caption classify`: files as given, directories expanded to the image
/// files directly inside them (by extension, sorted by name).
public enum ImagePaths {
    /// Expands `arguments`; throws one line naming the first argument that is neither an image file nor a
    /// directory, or a directory without images.
    public static func expand(_ arguments: [String]) throws(DatasetError) -> [String] {
        var out: [String] = []
        for a in arguments {
            if FileSystem.isDirectory(a) {
                guard let names = FileSystem.list(a) else { throw DatasetError("cannot read directory \(a)") }
                let images = names.filter { FileSystem.isImageName($0) || $0.lowercased().hasSuffix(".bmp") }
                    .map { FileSystem.join(a, $0) }.filter { FileSystem.isFile($0) }
                guard !images.isEmpty else { throw DatasetError("directory \(a) holds no image (.jpg, .jpeg, .png, .ppm, .pgm, .pnm, .bmp)") }
                out += images
            } else if FileSystem.isFile(a) {
                out.append(a)
            } else if FileSystem.exists(a) {
                throw DatasetError("\(a) is neither an image file nor a directory")
            } else {
                throw DatasetError("image \(a) does not exist")
            }
        }
        return out
    }

    /// Checks that the directory `path` would be written into exists (so a missing output directory fails
    /// before any work is done).
    public static func checkOutput(_ path: String) throws(DatasetError) {
        guard !path.isEmpty, !path.hasSuffix("/") else { throw DatasetError("output path '\(path)' is not a file name") }
        if FileSystem.isDirectory(path) { throw DatasetError("output \(path) is a directory, expected a file name") }
        let dir = FileSystem.parent(path)
        guard FileSystem.isDirectory(dir) else { throw DatasetError("cannot write \(path): directory \(dir) does not exist") }
    }
}
