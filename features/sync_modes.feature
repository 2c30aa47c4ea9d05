Feature: Sync modes
  ASYNC (the default) answers once the command's events are stored;
  SIMPLE also runs the projectors first and returns their projections;
  CASCADE also runs sagas and process managers first, depth first, and
  reports what failed in `cascade_errors` as `cascade_error_mode` says. A
  book delivered while the command waits is never delivered again. Each
  book reaches the projectors before anything it causes is stored, and a
  consumer that fails a book is left to the outbox for the rest of the
  cascade: every consumer receives an aggregate's books in order.

  Scenario: ASYNC answers before anything is projected
    Given angzarr-local runs the player aggregate with the ledger projector
    When I register "Alice" with sync mode ASYNC
    Then the answer holds no projections
    And the ledger receives the books of "Alice": PlayerRegistered at 0

  Scenario: SIMPLE answers with the projections, and the outbox leaves the book alone
    Given angzarr-local runs the player aggregate with the welcome saga and the ledger projector
    When I register "Alice" with sync mode SIMPLE
    Then the answer holds the projections of "ledger" at sequences 0
    And the ledger receives the books of "Alice": PlayerRegistered at 0, FundsDeposited at 1
    And once delivery settles, the ledger has received 2 books

  Scenario: CASCADE runs the saga before answering, depth first, once, in order
    Given angzarr-local runs the player aggregate with the welcome saga and the ledger projector
    When I register "Alice" with sync mode CASCADE
    Then the answer holds no cascade errors
    And the history of "Alice" is PlayerRegistered, FundsDeposited
    And the answer holds the projections of "ledger" at sequences 0 and 1
    And the ledger receives the books of "Alice": PlayerRegistered at 0, FundsDeposited at 1
    And once delivery settles, the ledger has received 2 books

  Scenario: FAIL_FAST stops the cascade at the first failure and leaves the rest to the outbox
    Given angzarr-local runs the player aggregate with the welcome saga and the ledger projector
    And the ledger projector fails its next 1 call
    When I register "Alice" with sync mode CASCADE and cascade error mode FAIL_FAST
    Then the answer holds 1 cascade error, from the projector "ledger" for domain "player"
    And the answer holds no projections
    And the ledger receives the books of "Alice": PlayerRegistered at 0, FundsDeposited at 1

  Scenario: CONTINUE goes on after a failure, leaving the failed consumer to the outbox
    Given angzarr-local runs the player aggregate with the welcome saga and the ledger projector
    And the ledger projector fails its next 1 call
    When I register "Alice" with sync mode CASCADE and cascade error mode CONTINUE
    Then the answer holds 1 cascade error, from the projector "ledger" for domain "player"
    And the history of "Alice" is PlayerRegistered, FundsDeposited
    And the answer holds no projections
    And the ledger receives the books of "Alice": PlayerRegistered at 0, FundsDeposited at 1

  Scenario: A rejected saga command is a cascade error naming the saga and the reason
    Given angzarr-local runs the player aggregate with the overdraw saga
    And player "Alice" is registered
    When I deposit 13 chips for "Alice" at sequence 1 with sync mode CASCADE and cascade error mode CONTINUE
    Then the answer holds 1 cascade error, from the saga "overdraw" for domain "player"
    And the cascade error says "examples.WithdrawFunds to player rejected: Insufficient funds"
