// Placeholder so the target builds; replaced by the real implementation.
public enum TRWSyncPlaceholder {}
