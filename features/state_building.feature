Feature: Building state from history
  Before it decides, an aggregate rebuilds its state from the history the
  coordinator sends with the command: the latest snapshot, then the events
  after it.

  Background:
    Given the player aggregate is serving over gRPC, behind angzarr-local

  Rule: The aggregate rebuilds its state from the history it is sent

    These scenarios send a history straight to the player aggregate's gRPC
    server, as the coordinator does.

    Background:
      Given a history of a player registered at sequence 0

    Scenario: State is rebuilt by applying every event in order
      Given the history continues with a deposit raising the bankroll to 100 chips at sequence 1
      And the history continues with a deposit raising the bankroll to 150 chips at sequence 2
      When the aggregate handles a withdrawal of 120 chips
      Then the aggregate decides a FundsWithdrawn at sequence 3 leaving 30 chips

    Scenario: State starts from the snapshot and applies only the events after it
      Given the history holds a snapshot at sequence 4 with a bankroll of 100 chips
      And the history continues with a deposit raising the bankroll to 150 chips at sequence 5
      When the aggregate handles a withdrawal of 120 chips
      Then the aggregate decides a FundsWithdrawn at sequence 6 leaving 30 chips

    Scenario: Events at or below the snapshot's sequence are not applied again
      Given the history holds a snapshot at sequence 4 with a bankroll of 100 chips
      And the history continues with a deposit raising the bankroll to 999 chips at sequence 3
      When the aggregate handles a withdrawal of 120 chips
      Then the aggregate rejects it with FAILED_PRECONDITION "Insufficient funds"

    Scenario: NoOp pages are skipped while state is rebuilt
      Given the history continues with a deposit raising the bankroll to 100 chips at sequence 1
      And the history continues with a NoOp page at sequence 2
      When the aggregate handles a withdrawal of 30 chips
      Then the aggregate decides a FundsWithdrawn at sequence 3 leaving 70 chips

    Scenario: Events the aggregate has no applier for are skipped
      Given the history continues with a deposit raising the bankroll to 100 chips at sequence 1
      And the history continues with a PlayerSittingOut at sequence 2
      And the history continues with an event of type "type.googleapis.com/elsewhere.Unheard" at sequence 3
      When the aggregate handles a withdrawal of 30 chips
      Then the aggregate decides a FundsWithdrawn at sequence 4 leaving 70 chips

    Scenario: A history event that does not decode fails the command naming its type and sequence
      Given the history continues with a FundsDeposited whose bytes are corrupt at sequence 1
      When the aggregate handles a withdrawal of 30 chips
      Then the aggregate fails with INVALID_ARGUMENT mentioning "examples.FundsDeposited" and "sequence 1"

    Scenario: The aggregate answers with a snapshot of its new state
      Given the history continues with a deposit raising the bankroll to 100 chips at sequence 1
      When the aggregate handles a withdrawal of 30 chips
      Then the aggregate's answer carries a snapshot at sequence 2 with a bankroll of 70 chips

  Rule: Behind the coordinator, the history is the one stored

    Scenario: Behind the coordinator, each command sees the state every earlier command left
      Given player "Alice" is registered with deposits of 10, 20 and 30 chips
      When I withdraw 55 chips from "Alice" expecting sequence 4
      Then the command succeeds with a FundsWithdrawn at sequence 4
      And the bankroll of "Alice" is 5 chips
