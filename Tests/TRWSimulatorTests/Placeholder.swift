import Testing
@Test func placeholderTRWSimulator() { #expect(Bool(true)) }
