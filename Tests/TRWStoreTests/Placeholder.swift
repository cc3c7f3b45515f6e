import Testing
@Test func placeholderTRWStore() { #expect(Bool(true)) }
