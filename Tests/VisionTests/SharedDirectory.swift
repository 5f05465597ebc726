import Foundation

/// `<repository>/../shared` (or `$CAPTION_SHARED`), or nil when absent: the reference data of the Vision tests.
func sharedDirectory() -> String? {
    if let env = ProcessInfo.processInfo.environment["CAPTION_SHARED"] { return env }
    let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let path = repo.deletingLastPathComponent().appendingPathComponent("shared").path
    return FileManager.default.fileExists(atPath: path) ? path : nil
}
