import TRWSerial

func printSerialPorts() {
    print("serial ports:")
    let ports = SerialInstrumentSource.listSerialPorts()
    if ports.isEmpty { print("  none found (/dev/serial/by-id, ttyUSB*, ttyACM*, ttyS* that answer)") }
    for p in ports { print("  \(p.description)") }
}
