import Testing
@Test func placeholderTRWCodec() { #expect(Bool(true)) }
