import ArgumentParser

/// How fast a run goes, for every command that paces one (record, simulate, replay):
/// `--speed N` (N times real time), `--speed max` or `--max` (as fast as the machine goes).
/// Each command states its default in its help.
enum Pace: Equatable, ExpressibleByArgument {
    case times(Double)
    case max

    init?(argument: String) {
        if argument == "max" { self = .max; return }
        guard let v = Double(argument) else { return nil }
        self = .times(v)
    }

    var defaultValueDescription: String {
        switch self {
        case .max: "max"
        case .times(let v): OptionCheck.format(v)
        }
    }

    /// Times real time; nil for max.
    var factor: Double? {
        if case .times(let v) = self { return v }
        return nil
    }
}

struct PacingOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("N times real time (1 = real time) or 'max'.", valueName: "N|max"))
    var speed: Pace?

    @Flag(name: .long, help: "As fast as the machine goes (same as --speed max).")
    var max = false

    func validate() throws {
        if let f = speed?.factor { try OptionCheck.number(f, "--speed", OptionCheck.speedRange, unit: "(times real time)") }
        if speed != nil && max { throw ValidationError("give either --speed or --max, not both") }
    }

    /// The pace asked for, or `fallback` when neither option is given.
    func pace(default fallback: Pace) -> Pace { max ? .max : speed ?? fallback }
}
