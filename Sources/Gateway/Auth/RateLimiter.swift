import Foundation
import Synchronization

/// Per-client token buckets: `burst` requests at once, refilled at `perSecond`. A refused request
/// learns how long to wait (`Retry-After`). In memory: limits protect this instance, not a cluster.
public final class RateLimiter: Sendable {
    public struct Decision: Sendable, Equatable {
        public var allowed: Bool
        /// Whole seconds until a request would be allowed (for `Retry-After`), 0 when allowed.
        public var retryAfter: Int
    }

    private struct Bucket { var tokens: Double; var updated: Double }
    private let buckets = Mutex<[String: Bucket]>([:])
    private let perSecond: Double
    private let burst: Double
    private let now: @Sendable () -> Double

    public init(perSecond: Double, burst: Int, clock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) {
        precondition(perSecond > 0 && burst > 0)
        self.perSecond = perSecond
        self.burst = Double(burst)
        self.now = clock
    }

    public func take(_ key: String) -> Decision {
        let t = now()
        return buckets.withLock { all in
            var b = all[key] ?? Bucket(tokens: burst, updated: t)
            b.tokens = min(burst, b.tokens + (t - b.updated) * perSecond)
            b.updated = t
            defer {
                all[key] = b
                // Bounded memory: forget buckets that are full again (they behave like new ones).
                if all.count > 10_000 { all = all.filter { $0.value.tokens + (t - $0.value.updated) * perSecond < burst } }
            }
            if b.tokens >= 1 {
                b.tokens -= 1
                return Decision(allowed: true, retryAfter: 0)
            }
            return Decision(allowed: false, retryAfter: max(1, Int(((1 - b.tokens) / perSecond).rounded(.up))))
        }
    }
}
