import GRDB

// The recorder writes these rows at up to 20x the rig's real rates (frames, AE chunks and
// hits, BMS samples, live predictions). Encoding them through Codable with the snake_case
// column strategy costs about 50-90 µs a row (measured in release; 2-3.5x a plain insert),
// so each writes its columns directly (GRDB's `EncodableRecord.encode(to:)`); the column
// names are the `Columns` of the type, the same the strategies produce (RecordColumnTests).

extension ThermalFrameRecord {
    public func encode(to container: inout PersistenceContainer) {
        container[Columns.id] = id
        container[Columns.streamId] = streamId
        container[Columns.sequence] = sequence
        container[Columns.deviceTsNs] = deviceTsNs
        container[Columns.hostArrivalNs] = hostArrivalNs
        container[Columns.tNs] = tNs
        container[Columns.codec] = codec
        container[Columns.payload] = payload
        container[Columns.minCounts] = minCounts
        container[Columns.maxCounts] = maxCounts
        container[Columns.meanCounts] = meanCounts
        container[Columns.hotspotX] = hotspotX
        container[Columns.hotspotY] = hotspotY
        container[Columns.flags] = flags
    }
}

extension AudioChunkRecord {
    public func encode(to container: inout PersistenceContainer) {
        container[Columns.id] = id
        container[Columns.streamId] = streamId
        container[Columns.firstSampleIndex] = firstSampleIndex
        container[Columns.frameCount] = frameCount
        container[Columns.hostArrivalNs] = hostArrivalNs
        container[Columns.pairSampleIndex] = pairSampleIndex
        container[Columns.pairHostNs] = pairHostNs
        container[Columns.tNs] = tNs
        container[Columns.codec] = codec
        container[Columns.payload] = payload
        container[Columns.rms] = rms
        container[Columns.peak] = peak
    }
}

extension AEHitRecord {
    public func encode(to container: inout PersistenceContainer) {
        container[Columns.id] = id
        container[Columns.streamId] = streamId
        container[Columns.channel] = channel
        container[Columns.sampleIndex] = sampleIndex
        container[Columns.tNs] = tNs
        container[Columns.amplitudeDb] = amplitudeDb
        container[Columns.riseTimeS] = riseTimeS
        container[Columns.durationS] = durationS
        container[Columns.counts] = counts
        container[Columns.energyV2s] = energyV2s
        container[Columns.rmsBeforeV] = rmsBeforeV
    }
}

extension BMSSampleRecord {
    public func encode(to container: inout PersistenceContainer) {
        container[Columns.id] = id
        container[Columns.streamId] = streamId
        container[Columns.hostArrivalNs] = hostArrivalNs
        container[Columns.deviceTimeS] = deviceTimeS
        container[Columns.tNs] = tNs
        container[Columns.voltageV] = voltageV
        container[Columns.currentA] = currentA
        container[Columns.cellTempC] = cellTempC
        container[Columns.cellTempsJson] = cellTempsJson
        container[Columns.ambientC] = ambientC
        container[Columns.soc] = soc
        container[Columns.extraJson] = extraJson
        container[Columns.raw] = raw
    }
}

extension PredictionRecord {
    public func encode(to container: inout PersistenceContainer) {
        container[Columns.id] = id
        container[Columns.model] = model
        container[Columns.modelVersion] = modelVersion
        container[Columns.runId] = runId
        container[Columns.tNs] = tNs
        container[Columns.score] = score
        container[Columns.alarm] = alarm
        container[Columns.latencyNs] = latencyNs
        container[Columns.parametersJson] = parametersJson
    }
}
