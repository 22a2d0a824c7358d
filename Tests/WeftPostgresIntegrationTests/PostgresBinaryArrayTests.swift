import Testing
import WeftCore
import WeftPostgres
import _WeftTestKit

@Suite("PostgresBinaryArray", .enabled(if: IntegrationEnvironment.postgresConfigured))
struct PostgresBinaryArrayTests {
    @Test("every element type reaches the server as sent, NULLs included, through unnest")
    func unnest_everyType_roundTrips() async throws {
        let connection = try await TestSchema.connect()
        var random = SystemRandomNumberGenerator()
        let id = RunID(unixMilliseconds: 1_764_000_000_123, using: &random)
        var uuids = PostgresBinaryArray(.uuid)
        var times = PostgresBinaryArray(.timestamptz)
        var texts = PostgresBinaryArray(.text)
        var small = PostgresBinaryArray(.int2)
        var ints = PostgresBinaryArray(.int4)
        var bigs = PostgresBinaryArray(.int8)
        var blobs = PostgresBinaryArray(.bytea)
        var flags = PostgresBinaryArray(.bool)
        uuids.append(id)
        times.append(PostgresTimestamp(unixMilliseconds: 1_764_000_000_123))
        texts.append("héllo, \"wörld\" {}")
        small.append(-3)
        ints.append(2_000_000_000)
        bigs.append(-9_000_000_000)
        blobs.append(bytes: [0, 1, 0xFF])
        flags.append(true)
        uuids.append(id)
        times.append(PostgresTimestamp(unixMilliseconds: -1))  // before both epochs
        texts.append(nil as String?)
        small.append(nil as Int?)
        ints.append(nil as Int?)
        bigs.append(nil as Int?)
        blobs.append(bytes: nil)
        flags.append(nil as Bool?)
        let rows = try await connection.query(
            """
            SELECT u::text AS u, (extract(epoch FROM t) * 1000)::bigint AS t, x, s, i, b, encode(y, 'hex') AS y, f
            FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::int2[], $5::int4[], $6::int8[], $7::bytea[], $8::bool[])
                 WITH ORDINALITY AS v(u, t, x, s, i, b, y, f, n)
            ORDER BY n
            """, arrays: [uuids, times, texts, small, ints, bigs, blobs, flags])
        #expect(rows.count == 2)
        #expect(try rows[0].string("u") == id.description)
        #expect(try rows[0].int64("t") == 1_764_000_000_123)
        #expect(try rows[0].string("x") == "héllo, \"wörld\" {}")
        #expect(try rows[0].int("s") == -3)
        #expect(try rows[0].int("i") == 2_000_000_000)
        #expect(try rows[0].int64("b") == -9_000_000_000)
        #expect(try rows[0].string("y") == "0001ff")
        #expect(try rows[0].bool("f") == true)
        #expect(try rows[1].int64("t") == -1)
        for column in ["x", "s", "i", "b", "y", "f"] { #expect(rows[1][column] == nil, "\(column)") }
        await connection.close()
    }

    @Test("a NUL in a text value becomes U+FFFD instead of failing the statement")
    func text_withNUL_replaced() async throws {
        let connection = try await TestSchema.connect()
        var texts = PostgresBinaryArray(.text)
        texts.append("bad\u{0}byte")
        let rows = try await connection.query("SELECT x FROM unnest($1::text[]) AS v(x)", arrays: [texts])
        #expect(try rows[0].string("x") == "bad\u{FFFD}byte")
        await connection.close()
    }

    @Test("an empty array is a valid parameter")
    func emptyArray_isValid() async throws {
        let connection = try await TestSchema.connect()
        let rows = try await connection.query("SELECT count(*) AS n FROM unnest($1::text[])", arrays: [PostgresBinaryArray(.text)])
        #expect(try rows[0].int("n") == 0)
        await connection.close()
    }
}
