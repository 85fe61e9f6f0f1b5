using System.Text;
using DinoFlow.Edge.Mqtt;

namespace DinoFlow.Edge.Tests;

public sealed class DiskSpoolTests
{
    private static string NewDir() => Path.Combine(Path.GetTempPath(), "dinoflow-spool-" + Guid.NewGuid().ToString("N")[..8]);

    [Fact]
    public void Messages_come_out_in_order_and_survive_a_restart()
    {
        var dir = NewDir();
        var spool = new DiskSpool(dir, 100);
        for (var i = 0; i < 5; i++) spool.Enqueue("t/" + i, Encoding.UTF8.GetBytes("m" + i));
        var first = spool.Peek()!;
        spool.Remove(first.Sequence);
        File.WriteAllText(Path.Combine(dir, "0000000000000099.msg.tmp"), "half a message"); // what kill -9 mid-write leaves

        var reopened = new DiskSpool(dir, 100);
        var seen = new List<string>();
        while (reopened.Peek() is { } m)
        {
            seen.Add(m.Topic + "=" + Encoding.UTF8.GetString(m.Payload));
            reopened.Remove(m.Sequence);
        }

        Assert.Equal(["t/1=m1", "t/2=m2", "t/3=m3", "t/4=m4"], seen);
        Assert.Empty(Directory.GetFiles(dir));
        reopened.Enqueue("t/5", [1]);
        Assert.True(reopened.Peek()!.Sequence > first.Sequence + 4);
    }

    [Fact]
    public void A_full_spool_drops_the_oldest_and_counts_them()
    {
        var spool = new DiskSpool(NewDir(), 3);
        for (var i = 0; i < 5; i++) spool.Enqueue("t", [(byte)i]);
        Assert.Equal(3, spool.Count);
        Assert.Equal(2, spool.Dropped);
        Assert.Equal(2, spool.Peek()!.Payload[0]);
    }
}
