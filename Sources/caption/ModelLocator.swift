#if canImport(Glibc)
import Glibc
#endif

/// Finds the model `caption describe` uses when `--model` is not given: `$CAPTION_MODEL`, then
/// `Models/default.safetensors` next to the installed binary (`<prefix>/bin/caption` →
/// `<prefix>/share/caption/Models`), inside the repository the binary was built in
/// (`<repo>/.build/<config>/caption` → `<repo>/Models`), and in the current directory.
enum ModelLocator {
    static let defaultName = "Models/default.safetensors"

    static func candidates(executable: String, environment: [String: String], currentDirectory: String) -> [String] {
        var out: [String] = []
        if let env = environment["CAPTION_MODEL"], !env.isEmpty { out.append(env) }
        let exeDir = parent(executable)
        out.append(exeDir + "/" + defaultName)
        out.append(parent(exeDir) + "/share/caption/" + defaultName)
        // <repo>/.build/<triple>/<config>/caption or <repo>/.build/<config>/caption
        var dir = exeDir
        for _ in 0..<4 {
            let name = dir.split(separator: "/").last.map(String.init) ?? ""
            if name.hasPrefix(".build") { out.append(parent(dir) + "/" + defaultName); break }
            if dir == "/" { break }
            dir = parent(dir)
        }
        out.append(currentDirectory + "/" + defaultName)
        var seen: Set<String> = []
        return out.filter { seen.insert($0).inserted }
    }

    static func parent(_ path: String) -> String {
        guard let i = path.lastIndex(of: "/") else { return "." }
        return i == path.startIndex ? "/" : String(path[..<i])
    }

    /// The path of the running executable.
    static func executablePath() -> String {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        if n > 0 { return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        return CommandLine.arguments.first ?? "caption"
    }

    static func currentDirectory() -> String {
        var buf = [CChar](repeating: 0, count: 4096)
        guard getcwd(&buf, buf.count) != nil else { return "." }
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func fileExists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }

    /// The default model, or an error listing where it was looked for.
    static func defaultModel() throws -> String {
        var env: [String: String] = [:]
        if let v = getenv("CAPTION_MODEL") { env["CAPTION_MODEL"] = String(cString: v) }
        let list = candidates(executable: executablePath(), environment: env, currentDirectory: currentDirectory())
        if let found = list.first(where: fileExists) { return found }
        throw CLIError("no model given and no default model found (looked for \(defaultName) beside the binary, in its repository and in the current directory); pass --model FILE")
    }
}
