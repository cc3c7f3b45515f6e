// Serial ports arrive with the serial driver.
func printSerialPorts() {
    print("serial ports:")
    print("  (serial driver not in this build)")
}
