Feature: The poker system
  Players buy in at tables through the buy-in process manager; sagas carry
  what one domain did to the other; a read model and a CloudEvents feed
  follow; an upcaster reads old players. Every component is served over
  gRPC behind angzarr-local.

  Background:
    Given the poker system is running
    And player "Alice" is funded with 1000 chips
    And table "Main" is open for 3 players with buy-ins 200 to 1000

  Scenario: A buy-in reserves the chips and seats the player
    When "Alice" asks to buy in at "Main" for 500 chips as "buy-in-alice"
    Then the workflow "buy-in-alice" ends BuyInCompleted
    And "Alice" has 500 chips reserved and 500 available
    And "Alice" sits in seat 0 at "Main" with 500 chips
    And the read model shows "Alice" in seat 0 at "Main" with 500 chips

  Scenario: A buy-in the table refuses because it is full is compensated
    Given player "Bob" is funded with 1000 chips
    And player "Carol" is funded with 1000 chips
    And player "Dave" is funded with 1000 chips
    And "Bob" has bought in at "Main" for 300 chips
    And "Carol" has bought in at "Main" for 300 chips
    And "Dave" has bought in at "Main" for 300 chips
    When "Alice" asks to buy in at "Main" for 500 chips as "buy-in-alice"
    Then the workflow "buy-in-alice" ends BuyInFailed with SEAT_REFUSED "Table is full"
    And "Alice" has 0 chips reserved and 1000 available
    And the workflow "buy-in-alice" reads BuyInRequested, BuyInInitiated, FundsReserved, BuyInPhaseChanged, BuyInFailed, FundsReleased, Revocation

  Scenario: A buy-in over the table's limit is compensated
    Given table "Small" is open for 3 players with buy-ins 200 to 600
    When "Alice" asks to buy in at "Small" for 700 chips as "buy-in-alice"
    Then the workflow "buy-in-alice" ends BuyInFailed with SEAT_REFUSED "Buy-in cannot exceed 600"
    And "Alice" has 0 chips reserved and 1000 available

  Scenario: A buy-in under the table's minimum is compensated
    When "Alice" asks to buy in at "Main" for 100 chips as "buy-in-alice"
    Then the workflow "buy-in-alice" ends BuyInFailed with SEAT_REFUSED "Buy-in must be at least 200"
    And "Alice" has 0 chips reserved and 1000 available

  Scenario: A buy-in the player cannot afford never reaches the table
    When "Alice" asks to buy in at "Main" for 2000 chips as "buy-in-alice"
    Then the workflow "buy-in-alice" ends BuyInFailed with FUNDS_REFUSED "Insufficient funds"
    And the table "Main" has 0 seats taken

  Scenario: A second request in one workflow changes nothing
    Given "Alice" has bought in at "Main" for 500 chips as "buy-in-alice"
    When "Alice" asks to buy in at "Main" for 300 chips as "buy-in-alice-2" in workflow "buy-in-alice"
    Then "Alice" has 500 chips reserved and 500 available

  Scenario: Leaving the table gives the reservation back, with the leave's correlation id
    Given "Alice" has bought in at "Main" for 500 chips
    When "Alice" leaves "Main" with correlation id "going-home"
    Then once delivery settles, "Alice" has 0 chips reserved and 1000 available
    And the release of "Alice" carries correlation id "going-home"

  Scenario: A player reported sitting out leaves the table
    Given "Alice" has bought in at "Main" for 500 chips
    When "Alice" is reported sitting out at "Main"
    Then once delivery settles, the table "Main" has 0 seats taken
    And "Alice" has 0 chips reserved and 1000 available

  Scenario: Sitting out during a hand is refused by the table and recorded as a revocation
    Given player "Bob" is funded with 1000 chips
    And "Alice" has bought in at "Main" for 500 chips
    And "Bob" has bought in at "Main" for 500 chips
    And a hand is being played at "Main"
    When "Alice" is reported sitting out at "Main"
    Then once delivery settles, the table "Main" has 2 seats taken
    And a revocation of "Alice" is recorded, its reason naming "LeaveTable"

  Scenario: A SIMPLE command's answer holds both projectors' projections
    When I open table "Side" with blinds 5/10 for 6 players, SIMPLE
    Then the answer holds projections of "table-seating" and "poker-events"
    And the CloudEvent in the answer has type "io.angzarr.poker.table.opened" and source "angzarr/table"

  Scenario: A CASCADE buy-in answers once the whole workflow is done
    When "Alice" asks to buy in at "Main" for 500 chips as "buy-in-alice", CASCADE
    Then right away "Alice" sits in seat 0 at "Main" with 500 chips
    And the answer holds a CloudEvent of type "io.angzarr.poker.table.seat-taken" with correlation id "buy-in-alice"

  Scenario: The read model fed the same book twice stays correct
    Given "Alice" has bought in at "Main" for 500 chips
    When the read model is given the table's books again
    Then the read model shows "Alice" in seat 0 at "Main" with 500 chips
    And the read model shows 1 seat at "Main"

  Scenario: A player an older version registered is read as a player
    Given "Eve" was registered by an older version of the player
    When I deposit 700 chips for "Eve" expecting sequence 1
    And "Eve" asks to buy in at "Main" for 500 chips as "buy-in-eve"
    Then the command succeeds with a FundsDeposited at sequence 1
    And the workflow "buy-in-eve" ends BuyInCompleted

  Scenario: A restart during delivery leaves the read model complete
    Given player "Bob" is funded with 1000 chips
    When "Alice" asks to buy in at "Main" for 500 chips as "buy-in-alice"
    And angzarr-local restarts on the same database
    And "Bob" asks to buy in at "Main" for 400 chips as "buy-in-bob"
    Then the read model shows "Alice" in seat 0 at "Main" with 500 chips
    And the read model shows "Bob" in seat 1 at "Main" with 400 chips
