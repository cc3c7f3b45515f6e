import Testing
@Test func placeholderTRWSync() { #expect(Bool(true)) }
