// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Atom: one owner-controlled, sequenced head (docs: ../../shared/spec/stem.md in the workspace, "The Atom contract").
/// @notice The head is a binary CID (or UTF-8 "/ipfs/..." text); every change bumps seq and emits HeadUpdated,
/// which hosts follow to start a new epoch.
contract Atom {
    error NotOwner();
    error NoChange();

    /// @dev cidHash is indexed so a reader can filter on a head without decoding the data.
    event HeadUpdated(uint64 indexed seq, address indexed writer, bytes cid, bytes32 indexed cidHash);

    address public owner;
    uint64 public seq;
    bytes private _cid;

    /// @dev seq starts at 0 and no event is emitted: readers take the initial head from head().
    constructor(bytes memory initialCid) {
        owner = msg.sender;
        _cid = initialCid;
    }

    function head() external view returns (uint64, bytes memory) {
        return (seq, _cid);
    }

    function setHead(bytes calldata newCid) external {
        if (msg.sender != owner) revert NotOwner();
        bytes32 cidHash = keccak256(newCid);
        if (cidHash == keccak256(_cid)) revert NoChange();
        _cid = newCid;
        uint64 next = seq + 1;
        seq = next;
        emit HeadUpdated(next, msg.sender, newCid, cidHash);
    }
}
