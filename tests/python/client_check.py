"""A Python gRPC client against angzarr-local (TCP) and the player aggregate
(Unix socket): python client_check.py COORDINATOR SOCKET STUBS_DIR.
See tests/python/README.md."""
import sys, uuid
import grpc
from google.protobuf import any_pb2
sys.path.insert(0, sys.argv[3] if len(sys.argv) > 3 else "py")
from angzarr import types_pb2, command_handler_pb2_grpc, query_pb2_grpc
from examples import player_pb2, poker_types_pb2

coordinator, socket = sys.argv[1], sys.argv[2]

def pack(msg):
    a = any_pb2.Any(); a.Pack(msg); return a

def book(root, seq, msg):
    return types_pb2.CommandBook(
        cover=types_pb2.Cover(domain="player", root=types_pb2.UUID(value=root.bytes), correlation_id="py"),
        pages=[types_pb2.CommandPage(header=types_pb2.PageHeader(sequence=seq), command=pack(msg))])

chips = lambda n: poker_types_pb2.Currency(amount=n, currency_code="CHIPS")

# 1. The aggregate over a Unix socket, as a coordinator calls it.
with grpc.insecure_channel(f"unix:{socket}", options=[("grpc.default_authority", "localhost")]) as ch:
    agg = command_handler_pb2_grpc.CommandHandlerServiceStub(ch)
    root = uuid.uuid4()
    out = agg.Handle(types_pb2.ContextualCommand(
        events=types_pb2.EventBook(cover=types_pb2.Cover(domain="player", root=types_pb2.UUID(value=root.bytes))),
        command=book(root, 0, player_pb2.RegisterPlayer(display_name="Py", email="py@example.com"))))
    names = [p.event.type_url.rsplit("/", 1)[1] for p in out.events.pages]
    assert names == ["examples.PlayerRegistered"], names
    assert out.events.snapshot.sequence == 0
    print("unix socket Handle:", names, "snapshot at", out.events.snapshot.sequence)
    try:
        agg.Handle(types_pb2.ContextualCommand())
        raise SystemExit("an empty ContextualCommand must be refused")
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.INVALID_ARGUMENT, e
        print("unix socket, empty request:", e.code().name, repr(e.details()))

# 2. angzarr-local over TCP: commands, a rejection, a conflict on a long history.
with grpc.insecure_channel(coordinator) as ch:
    coord = command_handler_pb2_grpc.CommandHandlerCoordinatorServiceStub(ch)
    query = query_pb2_grpc.EventQueryServiceStub(ch)
    root = uuid.uuid4()
    coord.HandleCommand(types_pb2.CommandRequest(command=book(root, 0, player_pb2.RegisterPlayer(display_name="Py", email="py@example.com"))))
    n = 300
    for i in range(n):
        coord.HandleCommand(types_pb2.CommandRequest(command=book(root, i + 1, player_pb2.DepositFunds(amount=chips(1)))))
    try:
        coord.HandleCommand(types_pb2.CommandRequest(command=book(root, n + 1, player_pb2.WithdrawFunds(amount=chips(10_000)))))
        raise SystemExit("an overdraft must be rejected")
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.FAILED_PRECONDITION and e.details() == "Insufficient funds", (e.code(), e.details())
        print("rejection:", e.code().name, repr(e.details()))
    try:
        coord.HandleCommand(types_pb2.CommandRequest(command=book(root, 5, player_pb2.DepositFunds(amount=chips(1)))))
        raise SystemExit("a stale sequence must conflict")
    except grpc.RpcError as e:
        trailers = dict(e.trailing_metadata() or ())
        size = sum(len(k) + len(v) for k, v in trailers.items())
        assert e.code() == grpc.StatusCode.FAILED_PRECONDITION, (e.code(), e.details())
        print(f"conflict on {n + 1} events:", e.code().name, repr(e.details()), f"trailers {size} bytes")
    got = query.GetEventBook(types_pb2.Query(cover=types_pb2.Cover(domain="player", root=types_pb2.UUID(value=root.bytes))))
    assert len(got.pages) == n + 1, len(got.pages)
    print("query:", len(got.pages), "pages, next sequence", got.next_sequence)
print("python client: all checks passed")
