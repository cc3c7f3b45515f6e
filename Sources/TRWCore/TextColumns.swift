extension String {
    /// Left-aligned in `n` columns (String(format:) with %-N@ does not pad on Linux).
    public func padded(to n: Int) -> String { count >= n ? self : self + String(repeating: " ", count: n - count) }
    /// Right-aligned in `n` columns.
    public func leftPadded(to n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}
