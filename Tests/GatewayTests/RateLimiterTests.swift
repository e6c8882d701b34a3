import Testing
import Synchronization
@testable import Gateway

@Suite struct RateLimiterTests {
    final class FakeClock: Sendable {
        let t = Mutex(1000.0)
        func advance(_ s: Double) { t.withLock { $0 += s } }
        var now: Double { t.withLock { $0 } }
    }

    @Test func burstThenRefillWithRetryAfter() {
        let clock = FakeClock()
        let limiter = RateLimiter(perSecond: 0.5, burst: 3, clock: { clock.now })
        for _ in 0..<3 { #expect(limiter.take("client-a").allowed) }
        let refused = limiter.take("client-a")
        #expect(!refused.allowed)
        #expect(refused.retryAfter == 2)
        #expect(limiter.take("client-b").allowed, "buckets are per client")
        clock.advance(2)
        #expect(limiter.take("client-a").allowed)
        #expect(!limiter.take("client-a").allowed)
    }
}
