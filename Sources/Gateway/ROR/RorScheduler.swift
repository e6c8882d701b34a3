import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The daily ROR refresh inside the running gateway: one thread that sleeps until the configured
/// time (host local time), runs `RorRefresher.daily`, and sleeps again. `stop()` wakes it, lets the
/// establishment being pulled finish (each request is bounded by the ROR timeout) and joins it.
public final class RorScheduler: @unchecked Sendable {
    // @unchecked: `stopping`, `running` and `finished` are only touched under `condition`.
    private let condition = NSCondition()
    private var stopping = false
    private var running = false
    private var finished = true
    let refresher: RorRefresher
    let hour: Int
    let minute: Int

    public init(refresher: RorRefresher, hour: Int, minute: Int) {
        self.refresher = refresher; self.hour = hour; self.minute = minute
    }

    /// The next occurrence of HH:MM strictly after `date`, in the host's time zone.
    public static func nextRun(after date: Date, hour: Int, minute: Int, calendar: Calendar = .current) -> Date {
        calendar.nextDate(after: date, matching: DateComponents(hour: hour, minute: minute, second: 0), matchingPolicy: .nextTime)
            ?? date.addingTimeInterval(86_400)
    }

    public func start() {
        condition.lock()
        guard !running else { condition.unlock(); return }
        running = true; finished = false; stopping = false
        condition.unlock()
        let t = Thread { [self] in loop() }
        t.name = "ror-daily"
        t.start()
    }

    private var isStopping: Bool {
        condition.lock(); defer { condition.unlock() }
        return stopping
    }

    private func loop() {
        while true {
            let next = Self.nextRun(after: Date(), hour: hour, minute: minute)
            Log.info("ror.daily.scheduled", [("at", ISO8601DateFormatter.string(from: next, timeZone: .gmt, formatOptions: [.withInternetDateTime]))])
            condition.lock()
            while !stopping && Date() < next { _ = condition.wait(until: next) }
            let stop = stopping
            condition.unlock()
            if stop { break }
            let runs = refresher.daily(stopping: { self.isStopping })
            Log.info("ror.daily.done", [("runs", String(runs.count)), ("failed", String(runs.filter { $0.status == .failed }.count))])
        }
        condition.lock()
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    /// Wakes the thread and waits (at most `grace` seconds) for it to end.
    public func stop(grace: Double = 60) {
        condition.lock()
        stopping = true
        condition.broadcast()
        let deadline = Date().addingTimeInterval(grace)
        while running && !finished && Date() < deadline { _ = condition.wait(until: deadline) }
        running = false
        condition.unlock()
    }
}
