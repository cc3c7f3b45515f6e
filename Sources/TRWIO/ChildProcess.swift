import CTRWIO
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What went wrong talking to a child process.
public enum ChildProcessError: Error, Sendable, Equatable, CustomStringConvertible {
    /// posix_spawn(2) or pipe2(2) failed.
    case spawn(command: String, call: String, Errno)
    /// The deadline passed before the child took our bytes or answered.
    case timedOut
    /// The child closed its standard input (it stopped reading).
    case inputClosed
    /// The child closed its standard output; `partial` is an unterminated last line, if any.
    case outputClosed(partial: [UInt8]?)
    /// The child wrote a line longer than the bound without a newline.
    case lineTooLong(LineDecoder.LineTooLong)
    /// Another I/O error.
    case io(call: String, Errno)

    public var description: String {
        switch self {
        case .spawn(let c, let call, let e): "could not start '\(c)': \(call): \(e)"
        case .timedOut: "no answer before the deadline"
        case .inputClosed: "it closed its input (stopped reading)"
        case .outputClosed(let p): "it closed its output" + (p.map { " after an unterminated line of \($0.count) bytes" } ?? "")
        case .lineTooLong(let l): "it wrote \(l)"
        case .io(let call, let e): "\(call): \(e)"
        }
    }
}

/// How a child process ended.
public struct ChildExit: Sendable, Equatable, CustomStringConvertible {
    public enum Status: Sendable, Equatable {
        case exited(CInt)
        case signaled(CInt)
    }
    /// What trw had to do to end it.
    public enum Ending: Sendable, Equatable {
        /// It exited by itself within the allowed time after its input closed.
        case onItsOwn
        /// It was sent SIGTERM (after not exiting in time) and ended within the grace period.
        case terminated
        /// It ignored SIGTERM for the grace period and was sent SIGKILL.
        case killed
    }
    public var status: Status
    public var ending: Ending

    public var succeeded: Bool { ending == .onItsOwn && status == .exited(0) }

    public var description: String {
        let s = switch status {
        case .exited(let c): "exit status \(c)"
        case .signaled(let sig): "signal \(sig)"
        }
        return switch ending {
        case .onItsOwn: s
        case .terminated: "terminated with SIGTERM (\(s))"
        case .killed: "killed with SIGKILL after ignoring SIGTERM (\(s))"
        }
    }

    init(rawStatus st: CInt, ending: Ending) {
        // WIFEXITED / WEXITSTATUS / WTERMSIG are macros Swift cannot import.
        let sig = st & 0x7f
        status = sig == 0 ? .exited((st >> 8) & 0xff) : .signaled(sig)
        self.ending = ending
    }
}

/// A program run with `/bin/sh -c COMMAND` that trw talks to in lines: it writes to
/// the child's standard input and reads lines from its standard output (external
/// detectors, sensing policies). Standard error is inherited.
///
/// Every wait is bounded by a `Deadline`: writes are non-blocking with poll(2), lines are
/// read through a linear `LineDecoder` with a maximum length. The child runs in its own
/// process group, so ending it (SIGTERM, then SIGKILL after a grace period) reaches a
/// whole `sh -c 'a | b'` pipeline. Both pipes are close-on-exec in trw; the child gets
/// default dispositions for SIGPIPE, SIGINT, SIGTERM, SIGHUP and SIGQUIT even where trw
/// ignores them. SIGPIPE is ignored in trw, so a child that stops reading is EPIPE.
///
/// One thread does the I/O; `signal(_:)` may be called from any thread.
public final class ChildProcess: @unchecked Sendable {
    public let command: String
    public let pid: pid_t
    private var inputFd: CInt
    private let outputFd: CInt
    private var decoder: LineDecoder
    private var sawEOF = false
    private let state = MutexBox<ChildExit?>(nil)

    /// `environment`: variables set for the child on top of trw's own environment (alarm
    /// details for an alarm action); nil: trw's environment as it is.
    public init(shellCommand command: String, maxLineBytes: Int = 1 << 20, environment: [String: String]? = nil) throws(ChildProcessError) {
        self.command = command
        decoder = LineDecoder(maxLineBytes: maxLineBytes)
        system_ignoreSIGPIPE()
        // Parent ends non-blocking, child ends blocking (an ordinary stdin/stdout for it).
        let toChild: (read: CInt, write: CInt)
        switch system_pipe(nonBlocking: false) {
        case .success(let p): toChild = p
        case .failure(let e): throw .spawn(command: command, call: "pipe2", e)
        }
        let fromChild: (read: CInt, write: CInt)
        switch system_pipe(nonBlocking: false) {
        case .success(let p): fromChild = p
        case .failure(let e):
            closeOwned(toChild.read); closeOwned(toChild.write)
            throw .spawn(command: command, call: "pipe2", e)
        }
        func closeAll() { for fd in [toChild.read, toChild.write, fromChild.read, fromChild.write] { closeOwned(fd) } }
        for fd in [toChild.write, fromChild.read] {
            if case .failure(let e) = system_setNonBlocking(fd, true) { closeAll(); throw .spawn(command: command, call: "fcntl(O_NONBLOCK)", e) }
        }
        switch Self.spawn(command, stdin: toChild.read, stdout: fromChild.write, environment: environment) {
        case .failure(let f):
            closeAll()
            throw .spawn(command: command, call: f.call, f.errno)
        case .success(let p):
            pid = p
        }
        closeOwned(toChild.read)
        closeOwned(fromChild.write)
        inputFd = toChild.write
        outputFd = fromChild.read
    }

    private struct SpawnFailure: Error { var call: String; var errno: Errno }

    /// posix_spawn(2) of /bin/sh -c COMMAND with stdin/stdout on the given descriptors,
    /// in a new process group, with an empty signal mask and default dispositions.
    private static func spawn(_ command: String, stdin: CInt, stdout: CInt, environment: [String: String]?) -> Result<pid_t, SpawnFailure> {
        func check(_ rc: CInt, _ call: String) -> SpawnFailure? { rc == 0 ? nil : SpawnFailure(call: call, errno: Errno(rawValue: rc)) }
        var actions = posix_spawn_file_actions_t()
        if let f = check(posix_spawn_file_actions_init(&actions), "posix_spawn_file_actions_init") { return .failure(f) }
        defer { _ = posix_spawn_file_actions_destroy(&actions) }  // only frees memory; cannot fail on an initialised object
        var attr = posix_spawnattr_t()
        if let f = check(posix_spawnattr_init(&attr), "posix_spawnattr_init") { return .failure(f) }
        defer { _ = posix_spawnattr_destroy(&attr) }  // same
        var defaults = sigset_t(), mask = sigset_t()
        sigemptyset(&defaults)
        sigemptyset(&mask)
        for s in [SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT] { sigaddset(&defaults, s) }
        let flags = Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK)
        let steps: [(CInt, String)] = [
            (posix_spawn_file_actions_adddup2(&actions, stdin, 0), "posix_spawn_file_actions_adddup2(stdin)"),
            (posix_spawn_file_actions_adddup2(&actions, stdout, 1), "posix_spawn_file_actions_adddup2(stdout)"),
            // Belt and braces to close-on-exec: nothing of trw's beyond 0, 1, 2 reaches the child.
            (posix_spawn_file_actions_addclosefrom_np(&actions, 3), "posix_spawn_file_actions_addclosefrom_np"),
            (posix_spawnattr_setflags(&attr, flags), "posix_spawnattr_setflags"),
            (posix_spawnattr_setpgroup(&attr, 0), "posix_spawnattr_setpgroup"),
            (posix_spawnattr_setsigdefault(&attr, &defaults), "posix_spawnattr_setsigdefault"),
            (posix_spawnattr_setsigmask(&attr, &mask), "posix_spawnattr_setsigmask"),
        ]
        for (rc, call) in steps { if let f = check(rc, call) { return .failure(f) } }
        let args: [UnsafeMutablePointer<CChar>?] = ["sh", "-c", command].map { s in s.withCString { strdup($0) } }
        guard !args.contains(where: { $0 == nil }) else { for a in args { free(a) }; return .failure(SpawnFailure(call: "strdup", errno: .noMemory)) }
        defer { for a in args { free(a) } }
        var argv: [UnsafeMutablePointer<CChar>?] = args + [nil]
        var noEnvironment: [UnsafeMutablePointer<CChar>?] = [nil]
        // With extra variables: trw's environment without those names, then them.
        var merged: [UnsafeMutablePointer<CChar>?] = []
        if let environment {
            var own: [String] = []
            var i = 0
            while let entry = environ[i] {
                let text = String(cString: entry)
                let name = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? text
                if environment[name] == nil { own.append(text) }
                i += 1
            }
            own += environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            merged = own.map { $0.withCString { strdup($0) } }
            guard !merged.contains(where: { $0 == nil }) else { for m in merged { free(m) }; return .failure(SpawnFailure(call: "strdup", errno: .noMemory)) }
            merged.append(nil)
        }
        defer { for m in merged { free(m) } }
        var pid: pid_t = 0
        let rc = argv.withUnsafeMutableBufferPointer { p in
            noEnvironment.withUnsafeMutableBufferPointer { empty in
                merged.withUnsafeMutableBufferPointer { env in
                    posix_spawn(&pid, "/bin/sh", &actions, &attr, p.baseAddress!,
                                environment != nil ? env.baseAddress! : (environ ?? empty.baseAddress!))
                }
            }
        }
        if let f = check(rc, "posix_spawn(/bin/sh)") { return .failure(f) }
        return .success(pid)
    }

    /// Writes all of `bytes` to the child's standard input, waiting at most until `deadline`.
    public func write(_ bytes: [UInt8], deadline: Deadline) throws(ChildProcessError) {
        let failure: ChildProcessError? = bytes.withUnsafeBytes { p in
            do throws(ChildProcessError) { try write(p, deadline: deadline); return nil } catch { return error }
        }
        if let failure { throw failure }
    }

    /// Writes all of `bytes` to the child's standard input (no copy: for large frames).
    public func write(_ bytes: UnsafeRawBufferPointer, deadline: Deadline) throws(ChildProcessError) {
        guard inputFd >= 0 else { throw .inputClosed }
        var offset = 0
        while offset < bytes.count {
            let r = system_write(inputFd, UnsafeRawBufferPointer(rebasing: bytes[offset...]))
            switch r {
            case .success(let n): offset += n
            case .failure(.wouldBlock):
                let ev: Int16
                do { ev = try pollOne(inputFd, events: Int16(POLLOUT), until: deadline) } catch { throw .io(call: "poll(stdin of child)", error) }
                if ev == 0 { throw .timedOut }
            case .failure(.brokenPipe): throw .inputClosed
            case .failure(let e):
                preconditionNotOurBug(e, "write(stdin of child)")
                throw .io(call: "write(stdin of child)", e)
            }
        }
    }

    public func write(_ text: String, deadline: Deadline) throws(ChildProcessError) {
        try write(Array(text.utf8), deadline: deadline)
    }

    /// Asks for a larger pipe to the child's standard input (fewer wake-ups when it takes
    /// megabytes at a time, such as video frames); returns the size granted, or nil when the
    /// kernel refused (the pipe keeps its size: slower, never wrong).
    @discardableResult
    public func enlargeInputPipe(to bytes: Int) -> Int? {
        guard inputFd >= 0, bytes > 0 else { return nil }
        if case .success(let n) = system_setPipeSize(inputFd, bytes) { return n }
        return nil
    }

    /// The next line the child writes (without its newline), waiting at most until `deadline`.
    public func readLine(deadline: Deadline) throws(ChildProcessError) -> [UInt8] {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            do {
                if let line = try decoder.nextLine() { return line }
            } catch {
                throw .lineTooLong(error)
            }
            if sawEOF { throw .outputClosed(partial: decoder.takePartial()) }
            let r = chunk.withUnsafeMutableBytes { system_read(outputFd, $0) }
            switch r {
            case .success(0): sawEOF = true
            case .success(let n): decoder.push(chunk[0..<n])
            case .failure(.wouldBlock):
                let ev: Int16
                do { ev = try pollOne(outputFd, events: Int16(POLLIN), until: deadline) } catch { throw .io(call: "poll(stdout of child)", error) }
                if ev == 0 { throw .timedOut }
            case .failure(let e):
                preconditionNotOurBug(e, "read(stdout of child)")
                throw .io(call: "read(stdout of child)", e)
            }
        }
    }

    /// Bytes read from the child so far (all examined once by the line decoder).
    public var bytesRead: Int { decoder.pushedBytes }
    public var bytesExamined: Int { decoder.examinedBytes }

    /// Closes the child's standard input (end of input for it).
    public func closeInput() {
        guard inputFd >= 0 else { return }
        closeOwned(inputFd)
        inputFd = -1
    }

    /// Sends `sig` to the child's process group, unless it was already reaped. Any thread.
    public func signal(_ sig: CInt) {
        state.withLock { exit in
            guard exit == nil else { return }
            switch system_kill(-pid, sig) {
            case .success, .failure(.noSuchProcess): break
            case .failure(let e): preconditionFailure("kill(-\(pid), \(sig)) failed with \(e): a bug in TRWIO")
            }
        }
    }

    /// Whether the child has exited (reaps it if so).
    public var hasExited: Bool { reap(noHang: true, ending: .onItsOwn) != nil }

    /// Closes its input, then waits up to `exitWithin` seconds for it to exit; then SIGTERM to
    /// its process group and up to `grace` seconds more; then SIGKILL. Bounded by
    /// `exitWithin + grace` plus the time the kernel takes to deliver SIGKILL.
    @discardableResult
    public func finish(exitWithin: Double, grace: Double) -> ChildExit {
        closeInput()
        if let e = waitExit(until: .after(seconds: exitWithin), ending: .onItsOwn) { return e }
        return end(grace: grace)
    }

    /// Ends the child now: SIGTERM, up to `grace` seconds, then SIGKILL.
    @discardableResult
    public func terminate(grace: Double) -> ChildExit {
        if let e = state.withLock({ $0 }) { return e }
        if let e = reap(noHang: true, ending: .onItsOwn) { return e }
        return end(grace: grace)
    }

    /// SIGTERM to the group, up to `grace` seconds for the leader to exit, then SIGKILL. Once
    /// the leader is gone, what is left of its group (a `sh -c` pipeline's members that ignored
    /// SIGTERM) gets SIGKILL too: nothing of it outlives trw holding trw's stderr open.
    private func end(grace: Double) -> ChildExit {
        signal(SIGTERM)
        let e = waitExit(until: .after(seconds: grace), ending: .terminated) ?? {
            signal(SIGKILL)
            return reap(noHang: false, ending: .killed)!
        }()
        sweepGroup()
        return e
    }

    /// SIGKILL to whatever is left of the child's process group (ESRCH when nothing is).
    private func sweepGroup() {
        switch system_kill(-pid, SIGKILL) {
        case .success, .failure(.noSuchProcess): break
        case .failure(let e): preconditionFailure("kill(-\(pid), SIGKILL) failed with \(e): a bug in TRWIO")
        }
    }

    /// Whether any process of the child's group is alive (kill(-pgid, 0)).
    public var groupIsAlive: Bool {
        switch system_kill(-pid, 0) {
        case .success: true
        case .failure(.noSuchProcess): false
        case .failure(let e): preconditionFailure("kill(-\(pid), 0) failed with \(e): a bug in TRWIO")
        }
    }

    private func waitExit(until deadline: Deadline, ending: ChildExit.Ending) -> ChildExit? {
        var pause: Int64 = 1_000_000
        while true {
            if let e = reap(noHang: true, ending: ending) { return e }
            if deadline.hasPassed { return nil }
            system_sleep(nanoseconds: min(pause, max(0, deadline.monotonicNs - Deadline.now())))
            pause = min(pause * 2, 20_000_000)
        }
    }

    /// waitpid on the child; records and returns how it ended once it has.
    private func reap(noHang: Bool, ending: ChildExit.Ending) -> ChildExit? {
        state.withLock { exit in
            if let exit { return exit }
            switch system_waitpid(pid, noHang: noHang) {
            case .success(let r) where r.pid == pid:
                exit = ChildExit(rawStatus: r.status, ending: ending)
                return exit
            case .success:
                return nil
            case .failure(let e):
                // ECHILD: someone else reaped it (a SIGCHLD handler set to SIG_IGN); it is gone.
                precondition(e == .noChildProcess, "waitpid(\(pid)) failed with \(e): a bug in TRWIO")
                exit = ChildExit(rawStatus: 0, ending: ending)
                return exit
            }
        }
    }

    /// How the child ended, once reaped.
    public var exit: ChildExit? { state.withLock { $0 } }

    deinit {
        closeInput()
        closeOwned(outputFd)
        if state.withLock({ $0 }) == nil {
            signal(SIGKILL)
            _ = reap(noHang: false, ending: .killed)
            sweepGroup()
        }
    }
}

/// A value behind a pthread mutex (TRWIO uses no Foundation).
final class MutexBox<Value>: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var value: Value

    init(_ value: Value) {
        self.value = value
        mutex.initialize(to: pthread_mutex_t())
        let rc = pthread_mutex_init(mutex, nil)
        precondition(rc == 0, "pthread_mutex_init failed: \(rc)")
    }

    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        let rc = pthread_mutex_lock(mutex)
        precondition(rc == 0, "pthread_mutex_lock failed: \(rc)")
        defer {
            let rc = pthread_mutex_unlock(mutex)
            precondition(rc == 0, "pthread_mutex_unlock failed: \(rc)")
        }
        return try body(&value)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }
}
