/// trw's version: the CLI's --version, the session files' software_version, stored predictions.
public enum TRWVersion {
    public static let string = "0.1.0"
}
